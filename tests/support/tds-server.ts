import net from 'node:net';
import { afterEach } from 'vitest';

// Just enough of SQL Server's TDS protocol, on 127.0.0.1, to see how the driver and the agent
// behave when a server refuses them. Real SQL Server tests need AUTOLOGGING_TEST_MSSQL.

const servers: net.Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A port on 127.0.0.1 where `onConnection` answers (or nothing listens, when omitted). */
export async function port(onConnection?: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConnection ?? (() => {}));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  if (onConnection) servers.push(server);
  else await new Promise((r) => server.close(r));
  return port;
}

/** A TDS packet: type, end-of-message status, length, then the payload. */
function packet(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(type, 0);
  header.writeUInt8(0x01, 1);
  header.writeUInt16BE(payload.length + 8, 2);
  header.writeUInt8(1, 6);
  return Buffer.concat([header, payload]);
}

const ucs2 = (text: string) => Buffer.from(text, 'utf16le');

/**
 * Just enough of SQL Server to refuse a login: answers PRELOGIN without encryption, then
 * answers LOGIN7 with the error `number` and a DONE, as a server does for a bad password.
 */
export function refusingServer(number: number, message: string) {
  return (socket: net.Socket) => {
    let messages = 0;
    socket.on('data', () => {
      messages++;
      if (messages === 1) {
        // PRELOGIN options: VERSION (6 bytes) and ENCRYPTION = NOT_SUP, then the terminator.
        const options = Buffer.from([0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xff]);
        const data = Buffer.from([16, 0, 0x0f, 0xa0, 0, 0, 0x02]);
        socket.write(packet(0x04, Buffer.concat([options, data])));
      } else {
        const text = ucs2(message);
        const body = Buffer.concat([
          Buffer.from(Uint32Array.of(number).buffer),
          Buffer.from([1, 14]),
          Buffer.from(Uint16Array.of(message.length).buffer),
          text,
          Buffer.from([0]),
          Buffer.from([0]),
          Buffer.from(Uint32Array.of(1).buffer),
        ]);
        const error = Buffer.concat([
          Buffer.from([0xaa]),
          Buffer.from(Uint16Array.of(body.length).buffer),
          body,
        ]);
        const done = Buffer.from([0xfd, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        socket.write(packet(0x04, Buffer.concat([error, done])));
      }
    });
  };
}
