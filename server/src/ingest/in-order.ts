/**
 * Handles a socket's frames in arrival order when some of them wait on the database (a hello,
 * an auth check): while one is pending, later frames queue behind it; otherwise they run at once.
 */
export function inOrder(): (work: () => void | Promise<void>) => void {
  let queue: Promise<void> | null = null;
  const behind = (work: () => void | Promise<void>): void => {
    const q: Promise<void> = (queue ?? Promise.resolve()).then(work).then(() => {
      if (queue === q) queue = null;
    });
    queue = q;
  };
  return (work) => {
    if (queue) return behind(work);
    const pending = work();
    if (pending) behind(() => pending);
  };
}
