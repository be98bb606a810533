export * from './factories';
export * from './service';
