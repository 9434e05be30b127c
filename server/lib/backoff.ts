export interface Backoff {
  baseMs: number
  /**
   * The spread of each delay, as fractions of base × 2^(attempt−1): [0.5, 1] is "equal jitter",
   * [0.8, 1.2] ±20%, so clients that failed together do not retry in lockstep. None by default.
   */
  jitter?: readonly [min: number, max: number]
}

/** The delay before retrying after failed attempt `attempt` (1 = the first): base × 2^(attempt−1), jittered. */
export function backoffMs(attempt: number, { baseMs, jitter = [1, 1] }: Backoff, random = Math.random): number {
  const [min, max] = jitter
  return Math.round(baseMs * 2 ** Math.max(0, attempt - 1) * (min + (max - min) * random()))
}
