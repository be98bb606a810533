export * from './chain';
export * from './append';
export * from './verify';
