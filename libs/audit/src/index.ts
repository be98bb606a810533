export * from './chain';
export * from './append';
export * from './verify';
export { AuditCheckpointKeys, configureAuditCheckpoints, type AuditCheckpoint, type CheckpointedRun } from './checkpoint';
