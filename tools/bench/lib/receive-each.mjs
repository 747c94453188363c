// A receive loop for a zeromq.js socket: calls `onFrames` for each message until the socket is
// closed (or `onFrames` returns true). Resolves when the loop ends.
export async function receiveEach(socket, onFrames) {
  for (;;) {
    let frames;
    try {
      frames = await socket.receive();
    } catch {
      return;
    }
    if (onFrames(frames) === true) return;
  }
}
