/** Set when the process was asked to stop: long tasks finish their batch in flight and end early. */
let requested = false;

export function requestShutdown(): void {
  requested = true;
}

export function shutdownRequested(): boolean {
  return requested;
}
