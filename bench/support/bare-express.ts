// The baseline of HTTP benchmarks: a bare Express JSON endpoint in its own process, so it pays the
// same process and loopback costs as the service beside it. Prints `ready bare <port>`.
import express from 'express';

const app = express();
app.use(express.json());
app.post('/echo', (req, res) => {
  res.status(202).json({ ok: true, received: typeof req.body });
});
app.get('/echo', (_req, res) => {
  res.json({ ok: true });
});
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`ready bare ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
