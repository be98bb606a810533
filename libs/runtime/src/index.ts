export * from './runtime';
export * from './run-service';
