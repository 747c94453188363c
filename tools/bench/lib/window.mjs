/**
 * At most `size` promises unsettled at once: `add` waits while the window is full, `drain` until
 * every added promise has settled (fulfilled or rejected: the caller's own handlers count which).
 * A counter and one waiter, never `Promise.race` over the window, which would add a reaction to
 * every pending promise per wait and charge the side whose promises live longer.
 */
export function promiseWindow(size) {
  let inFlight = 0;
  let wake;
  const settled = () => {
    inFlight -= 1;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const whileAbove = async (limit) => {
    while (inFlight > limit) await new Promise((r) => (wake = r));
  };
  return {
    /** Undefined while there is room (no await per publish), else a promise that resolves when there is. */
    add(promise) {
      inFlight += 1;
      promise.then(settled, settled);
      return inFlight >= size ? whileAbove(size - 1) : undefined;
    },
    drain: () => whileAbove(0),
  };
}
