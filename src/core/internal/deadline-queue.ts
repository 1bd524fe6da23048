/** A scheduled callback; keep it to cancel it. */
export interface Deadline {
  /** Epoch ms at which it fires. */
  readonly at: number;
  /** @internal position in the heap; -2 while due in the batch being fired, -1 once fired or cancelled. */
  index: number;
  /** @internal */
  readonly fire: () => void;
}

// setTimeout clamps larger delays to 1 ms; longer deadlines re-arm when the timer fires early.
const MAX_DELAY = 2_147_483_647;
/** Out of the heap, waiting its turn in the batch being fired: it may still be cancelled. */
const DUE = -2;

/**
 * Many deadlines on one timer: a binary min-heap by time, with the single `setTimeout` armed
 * for the earliest. Adding and cancelling are O(log n); a cancelled deadline leaves the heap at
 * once, so settled waits retain nothing, and the timer is cleared when the heap is empty.
 * (One `setTimeout` per wait costs a timer object and a slot in the runtime's timer list each.)
 */
export class DeadlineQueue {
  #heap: Deadline[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Infinity;

  /** How many deadlines are waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Whether a timer is armed (for leak checks). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Calls `fire` at `at` (epoch ms), unless cancelled first. */
  add(at: number, fire: () => void): Deadline {
    const deadline: Deadline = { at, index: -1, fire };
    this.insert(deadline);
    return deadline;
  }

  /**
   * Schedules an object that is its own deadline: its `fire()` is called at its `at`, unless it
   * is cancelled first. Saves a deadline object (and usually a closure) per entry, which counts
   * with 100,000 waits.
   */
  insert(deadline: Deadline): void {
    deadline.index = this.#heap.length;
    this.#heap.push(deadline);
    this.#up(deadline.index);
    if (deadline.at < this.#armedAt) this.#arm();
  }

  /** Removes a deadline that has not fired; a no-op for one that has. */
  cancel(deadline: Deadline): void {
    const i = deadline.index;
    if (i === DUE) deadline.index = -1;
    if (i < 0) return;
    this.#removeAt(i);
    deadline.index = -1;
  }

  #removeAt(i: number): void {
    const last = this.#heap.pop()!;
    if (i < this.#heap.length) {
      this.#heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    if (this.#heap.length === 0) this.#disarm();
  }

  /** Arms the timer for the earliest deadline, or leaves it unarmed when there is none. */
  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const first = this.#heap[0];
    if (first === undefined) {
      this.#timer = undefined;
      this.#armedAt = Infinity;
      return;
    }
    this.#armedAt = first.at;
    this.#timer = setTimeout(() => this.#expire(), Math.min(MAX_DELAY, Math.max(0, first.at - Date.now())));
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  #expire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = Date.now();
    const due: Deadline[] = [];
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const first = this.#heap[0]!;
      this.#removeAt(0);
      first.index = DUE;
      due.push(first);
    }
    this.#arm();
    // Fired after the heap is consistent, so a callback may add or cancel deadlines freely;
    // one that cancels a later deadline of the same batch stops it from firing.
    for (const deadline of due) {
      if (deadline.index !== DUE) continue;
      deadline.index = -1;
      deadline.fire();
    }
  }

  #up(i: number): void {
    const heap = this.#heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.at <= item.at) break;
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
      if (child + 1 < n && heap[child + 1]!.at < heap[child]!.at) child++;
      const c = heap[child]!;
      if (c.at >= item.at) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = item;
    item.index = i;
  }
}
