export * from './factories';
export * from './service';
export * from './hostile';
