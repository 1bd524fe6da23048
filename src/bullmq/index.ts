/**
 * export-task/bullmq: a source of export events straight from the service's Redis (the
 * service on BullMQ), for Node clients next to it. Feed a `TaskStore` with it. Needs the
 * optional peer dependencies `bullmq` and `ioredis`.
 *
 * @packageDocumentation
 */

export { fromBullmq, JOB_REMOVED } from './bullmq-source.js';
export type { BullmqSourceOptions } from './bullmq-source.js';
