export { Joi } from './joi';
export { loadConfig, ConfigError, readDotEnv } from './load-config';
export * from './pieces';
export * from './app-configs';
