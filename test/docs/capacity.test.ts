/**
 * docs/capacity.md's tables are generated from bench/results/capacity.json
 * (bench/capacity-report.ts): the committed document must be what the committed results give,
 * and the model's formulas must compute what the document says they compute.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ASSUMPTIONS, CAPACITY_DOC, CAPACITY_RESULTS, modelUnits, renderCapacityDoc, size, type CapacityResults, type ModelUnits } from '../../bench/capacity-report.js';

const results = JSON.parse(readFileSync(CAPACITY_RESULTS, 'utf8')) as CapacityResults;

describe('docs/capacity.md', () => {
  it('holds the tables that bench/results/capacity.json gives (re-run `npm run bench:capacity -- --report` after the bench)', () => {
    const doc = readFileSync(CAPACITY_DOC, 'utf8');
    expect(renderCapacityDoc(doc, results)).toBe(doc);
  });

  it('has every unit cost the model needs in the committed results', () => {
    expect(() => modelUnits(results)).not.toThrow();
  });

  it('says which unit costs are missing, and the command that measures them', () => {
    const partial: CapacityResults = { ...results, units: { appendCpuUs: results.units['appendCpuUs']! } };
    expect(() => modelUnits(partial)).toThrow(/lacks deliveryCpuUs, heartbeatCpuUs, .*: run npm run bench:capacity/);
  });

  it('refuses a document whose markers are gone, naming the marker', () => {
    expect(() => renderCapacityDoc('# Capacity\n', results)).toThrow('docs/capacity.md lacks the marker <!-- capacity:machine -->');
  });
});

describe('the capacity model', () => {
  // Round numbers, worked by hand below.
  const units: ModelUnits = {
    appendCpuUs: 100,
    deliveryCpuUs: 2,
    heartbeatCpuUs: 10,
    sseConnectionHeapBytes: 10_000,
    workerExportsPerCoreSecond: 10,
    eventsPerExport: 10,
    typicalFrameBytes: 200,
    exportFileBytes: 1e6,
    redisBytesPerExportInWindow: 5000,
    redisBytesPerFinishedExport: 500,
    redisCpuUsPerExport: 1000,
    sqliteEventsPerCoreSecond: 5000,
  };

  it('sizes 864,000 exports a day with 100,000 watchers as the formulas of docs/capacity.md say', () => {
    const s = size(864_000, 100_000, units);
    // 10 exports/s on average, 3x at the peak, 10 events each, each event to 100,000 / 100 watchers.
    expect(s.peakExportsPerSecond).toBe(30);
    expect(s.peakEventsPerSecond).toBe(300);
    expect(s.peakDeliveriesPerSecond).toBe(300_000);
    // 100,000 connections at 20,000 an instance planned to 60%: 9; CPU alone needs 2, memory 1.
    expect(s.apiInstances).toBe(9);
    expect(s.apiDecidedBy).toBe('connections');
    // 9 x 300 x 100 us + 300,000 x 2 us + 100,000 / 15 x 10 us.
    expect(s.apiCpuCores).toBeCloseTo(0.27 + 0.6 + 0.0667, 3);
    expect(s.apiMemoryBytes).toBe(1e9);
    // 30 / 10 per core, planned to 60%.
    expect(s.workerCores).toBe(5);
    // A day of 5,000 B and 30 days of 500 B per export: 17.28 GB, 2 shards of 16 GiB at 60%.
    expect(s.redisMemoryBytes).toBe(864_000 * 5000 + 864_000 * 30 * 500);
    expect(s.redisShards).toBe(2);
    expect(s.redisDecidedBy).toBe('memory');
    expect(s.redisCpuCores).toBeCloseTo(0.03, 6);
    expect(s.sseBytesPerSecond).toBeCloseTo(300_000 * 200 + (100_000 / 15) * 13, 3);
    expect(s.downloadBytesPerSecond).toBe(30e6);
    expect(s.sqliteFits).toBe(false);
    // 5 instances' worth of connection slots is the most units of anything.
    expect(s.bottleneck).toBe('API connections');
  });

  it('keeps a small load on the minimum of everything, and on one SQLite service', () => {
    const s = size(10_000, 1_000, units);
    expect(s.apiInstances).toBe(2);
    expect(s.apiDecidedBy).toBe('minimum');
    expect(s.workerCores).toBe(1);
    expect(s.redisShards).toBe(1);
    expect(s.redisDecidedBy).toBe('minimum');
    expect(s.sqliteFits).toBe(true);
  });

  it('adds API instances for CPU when deliveries outgrow one event loop', () => {
    // 300 events/s to 10,000 watchers each (P = 100, W = 1,000,000) is 3 million deliveries a second: 6 cores.
    const s = size(864_000, 1_000_000, { ...units, sseConnectionHeapBytes: 1 }, { ...ASSUMPTIONS, apiConnections: 10_000_000 });
    expect(s.apiDecidedBy).toBe('CPU');
    // n with (0.03 n + 6 + 0.667) / n <= 0.6: n >= 11.7.
    expect(s.apiInstances).toBe(12);
  });
});
