export * from './world';
export * from './services';
export * from './load';
export * from './report';
export * from './webhooks';
export * from './sources';
