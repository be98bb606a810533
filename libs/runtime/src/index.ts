export * from './runtime';
export * from './run-service';
export * from './service-app';
