import { systemClock, type Clock } from '../clock.js';

/** A link of a circular doubly-linked list; both links are null while it is in no list. */
interface Link {
  prev: Link | null;
  next: Link | null;
}

/** Something scheduled in a {@link DeadlineQueue}; keep it to cancel it. */
export interface Deadline extends Link {
  /** Epoch ms at which it falls due (set by the queue). */
  at: number;
}

/** A deadline made by {@link DeadlineQueue.add}: a callback. */
export interface CallbackDeadline extends Deadline {
  readonly fire: () => void;
}

const fireCallback = (deadline: Deadline): void => (deadline as CallbackDeadline).fire();

// setTimeout clamps larger delays to 1 ms; longer deadlines re-arm when the timer fires early.
const MAX_DELAY = 2_147_483_647;
/** The `next` of a deadline out of its list, waiting its turn in the batch being fired: it may still be cancelled. */
const DUE: Link = Object.freeze({ prev: null, next: null });

/**
 * The deadlines of one delay, in the order they were added, which is the order they fall due
 * (unless the clock went back; see `#link`). The list is its own sentinel: an empty list links
 * to itself.
 */
class DelayList implements Link {
  prev: Link = this;
  next: Link = this;
  /** Position in the queue's heap of lists. */
  index = -1;

  constructor(
    readonly delay: number,
    /** Never later than the first deadline's `at`; raised lazily once earlier ones are gone. */
    public expiry: number,
  ) {}
}

/**
 * Many deadlines on one timer. Deadlines are kept in one list per delay, as Node keeps its own
 * timers: waits made with the same timeout fall due in the order they were made, so adding one
 * appends to its list and cancelling one unlinks it, both O(1), whatever the number of
 * deadlines. The lists are in a binary min-heap by their earliest deadline (O(log L) for L
 * distinct delays, touched only when a list is made or emptied, or when the timer fires), and
 * the single `setTimeout` is armed for the earliest. A cancelled deadline leaves its list at
 * once, so settled waits retain nothing, and the timer is cleared when no deadline is left.
 *
 * Cancelling the earliest deadline leaves the timer armed for its time: it then fires early,
 * finds nothing due and re-arms, which costs one wake-up instead of a `clearTimeout` and a
 * `setTimeout` per cancelled wait.
 */
export class DeadlineQueue<D extends Deadline = CallbackDeadline> {
  /** Called with each deadline that falls due: one function for the whole queue, not one per deadline. */
  readonly #onDue: (deadline: D) => void;
  readonly #lists = new Map<number, DelayList>();
  /** The lists, a min-heap by `expiry`. */
  readonly #heap: DelayList[] = [];
  #size = 0;
  #timer: unknown = undefined;
  #armedAt = Infinity;
  readonly #clock: Clock;

  /**
   * @param onDue - Required unless the deadlines are {@link CallbackDeadline}s: by default each is fired.
   * @param clock - Where the time is read and the timer armed.
   */
  constructor(onDue: (deadline: D) => void = fireCallback, clock: Clock = systemClock) {
    this.#onDue = onDue;
    this.#clock = clock;
  }

  /** How many deadlines are waiting. */
  get size(): number {
    return this.#size;
  }

  /** Whether a timer is armed (for leak checks). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Calls `fire` at `at` (epoch ms), unless cancelled first (a queue of callbacks). */
  add(this: DeadlineQueue<CallbackDeadline>, at: number, fire: () => void): CallbackDeadline {
    const deadline: CallbackDeadline = { at, prev: null, next: null, fire };
    this.#link(deadline, at, at - this.#clock.now());
    return deadline;
  }

  /**
   * Schedules an object that is its own deadline: the queue's `onDue` gets it `delay` ms from
   * now (its `at` is set to that time), unless it is cancelled first. Saves a deadline object
   * and a closure per entry, which counts with 100,000 waits.
   */
  insert(deadline: D, delay: number): void {
    this.#link(deadline, this.#clock.now() + delay, delay);
  }

  /** Removes a deadline that has not fired; a no-op for one that has. */
  cancel(deadline: D): void {
    const next = deadline.next;
    if (next === null) return;
    if (next === DUE) {
      deadline.next = null;
      return;
    }
    const prev = deadline.prev!;
    prev.next = next;
    next.prev = prev;
    deadline.prev = deadline.next = null;
    if (--this.#size === 0) return this.#clear();
    // Only the list itself is left: the list is empty.
    if (prev === next) this.#drop(prev as DelayList);
  }

  #link(deadline: D, at: number, delay: number): void {
    deadline.at = at;
    let list = this.#lists.get(delay);
    if (list === undefined) {
      list = new DelayList(delay, at);
      this.#lists.set(delay, list);
      list.index = this.#heap.length;
      this.#heap.push(list);
      this.#up(list.index);
    }
    // After the last deadline of its delay, which falls due no later: unless the clock went
    // back since, and then after the last one due no later than this one.
    let after = list.prev;
    while (after !== list && (after as Deadline).at > at) after = after.prev!;
    const before = after.next!;
    deadline.prev = after;
    deadline.next = before;
    after.next = deadline;
    before.prev = deadline;
    if (after === list && at < list.expiry) {
      list.expiry = at;
      this.#up(list.index);
    }
    this.#size++;
    if (at < this.#armedAt) this.#arm(at);
  }

  /** Removes an empty list from the map and the heap. */
  #drop(list: DelayList): void {
    this.#lists.delete(list.delay);
    this.#removeAt(list.index);
  }

  /** No deadline is left: forget every list and clear the timer. */
  #clear(): void {
    this.#lists.clear();
    this.#heap.length = 0;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  /** Arms the timer for `at`, replacing the one armed for a later time. */
  #arm(at: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#expire(), Math.min(MAX_DELAY, Math.max(0, at - this.#clock.now())));
  }

  #expire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    const heap = this.#heap;
    const due: D[] = [];
    while (heap.length > 0 && heap[0]!.expiry <= now) {
      const list = heap[0]!;
      let first = list.next;
      while (first !== list && (first as Deadline).at <= now) {
        const next = first.next!;
        list.next = next;
        next.prev = list;
        first.prev = null;
        first.next = DUE;
        due.push(first as D);
        this.#size--;
        first = next;
      }
      if (first === list) {
        this.#lists.delete(list.delay);
        this.#removeAt(0);
      } else {
        list.expiry = (first as Deadline).at;
        this.#down(0);
      }
    }
    if (heap.length > 0) this.#arm(heap[0]!.expiry);
    // Fired after the queue is consistent, so a callback may add or cancel deadlines freely;
    // one that cancels a later deadline of the same batch stops it from firing.
    const onDue = this.#onDue;
    for (const deadline of due) {
      if (deadline.next !== DUE) continue;
      deadline.next = null;
      onDue(deadline);
    }
  }

  #removeAt(i: number): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (i < heap.length) {
      heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
  }

  #up(i: number): void {
    const heap = this.#heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.expiry <= item.expiry) break;
      heap[i] = p;
      p.index = i;
      i = parent;
    }
    heap[i] = item;
    item.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1]!.expiry < heap[child]!.expiry) child++;
      const c = heap[child]!;
      if (c.expiry >= item.expiry) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = item;
    item.index = i;
  }
}
