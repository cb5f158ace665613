import type { Http2Stream } from 'node:http2';
import { ProtocolError } from '../errors.js';
import { FrameParser, FrameType, decodeControl, encodeControl, type ControlMessage } from './frame.js';

/** What a role does with the control messages it receives (pings are answered here). */
export interface ControlHandler {
  onDrain?(): void;
  onDrainAck?(): void;
  onPong?(id: number): void;
  /** The peer broke the protocol on the connect stream; the connection must go. */
  onProtocolError(error: ProtocolError): void;
}

/**
 * The connect stream after authentication, for both roles (docs/protocol.md § 5): it parses
 * Control frames, answers `ping` with `pong`, hands drain, drain-ack and pong to the role and
 * ignores messages this version does not know. Any other frame is a protocol error.
 */
export class ControlChannel {
  private readonly parser: FrameParser;
  private pingSequence = 0;

  constructor(
    readonly stream: Http2Stream,
    private readonly handler: ControlHandler,
  ) {
    this.parser = new FrameParser({
      onHead: (type, raw) => {
        if (type !== FrameType.Control) throw new ProtocolError('Only control frames belong on the connect stream');
        this.receive(decodeControl(raw));
      },
      onBody: () => {
        throw new ProtocolError('Body frame on the connect stream');
      },
      onEnd: () => {
        throw new ProtocolError('End frame on the connect stream');
      },
    });
    stream.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (error) {
        handler.onProtocolError(error instanceof ProtocolError ? error : new ProtocolError((error as Error).message));
      }
    });
  }

  get open(): boolean {
    return !this.stream.destroyed;
  }

  send(message: ControlMessage): void {
    if (!this.stream.destroyed) this.stream.write(encodeControl(message));
  }

  /** An application-level ping (keeps idle-timeout middleboxes from cutting the connection). */
  ping(): void {
    this.send({ type: 'ping', id: ++this.pingSequence });
  }

  private receive(message: ControlMessage | undefined): void {
    switch (message?.type) {
      case 'ping':
        this.send({ type: 'pong', id: message.id });
        break;
      case 'pong':
        this.handler.onPong?.(message.id);
        break;
      case 'drain':
        this.handler.onDrain?.();
        break;
      case 'drain-ack':
        this.handler.onDrainAck?.();
        break;
      default:
        break; // unknown messages are ignored (§ 8 Versioning)
    }
  }
}
