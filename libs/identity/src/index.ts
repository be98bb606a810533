export * from './bootstrap';
export * from './tokens';
export * from './external-sync';
