// ONNX Runtime side of kiln's benchmarks: times a model with npm onnxruntime-node (CPU EP,
// all graph optimizations) on .npy inputs and prints one JSON object with median/p90.
//
//   node benchmarks/ort_bench.js MODEL.onnx --input NAME=FILE.npy ... [--threads N]
//        [--runs N] [--warmup N] [--output-dir DIR]   (writes each output as NAME.npy)
//
// onnxruntime-node is looked up in benchmarks/node_modules (run.sh installs it there with
// `npm install --ignore-scripts onnxruntime-node`; the CPU library ships in the package).
'use strict';

const fs = require('fs');
const path = require('path');

function usage(message) {
  if (message) console.error(`ort_bench: error: ${message}`);
  console.error(
      'usage: node ort_bench.js MODEL.onnx --input NAME=FILE.npy ... [--threads N] ' +
      '[--runs N] [--warmup N] [--output-dir DIR]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {model: null, inputs: [], threads: 2, runs: 20, warmup: 3, outputDir: null};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const intValue = () => {
      const v = value();
      if (!/^\d+$/.test(v)) usage(`${a} needs a non-negative integer, got '${v}'`);
      return parseInt(v, 10);
    };
    if (a === '--input') {
      const v = value();
      const eq = v.indexOf('=');
      if (eq <= 0) usage(`--input wants NAME=FILE.npy, got '${v}'`);
      opts.inputs.push([v.slice(0, eq), v.slice(eq + 1)]);
    } else if (a === '--threads') {
      opts.threads = intValue();
    } else if (a === '--runs') {
      opts.runs = intValue();
    } else if (a === '--warmup') {
      opts.warmup = intValue();
    } else if (a === '--output-dir') {
      opts.outputDir = value();
    } else if (a === '--help' || a === '-h') {
      usage();
    } else if (a.startsWith('--')) {
      usage(`unknown option ${a}`);
    } else if (opts.model === null) {
      opts.model = a;
    } else {
      usage(`unexpected argument '${a}'`);
    }
  }
  if (opts.model === null) usage('no model given');
  if (opts.runs < 1) usage('--runs must be at least 1');
  return opts;
}

// .npy (format 1.0/2.0/3.0) dtype descriptors <-> onnxruntime tensor types.
const NPY_TYPES = {
  '<f4': ['float32', Float32Array],
  '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array],
  '|b1': ['bool', Uint8Array],
  '|u1': ['uint8', Uint8Array],
};

/** Reads a C-order little-endian .npy file into {type, dims, data}. */
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', headerStart, headerStart + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const order = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shape) throw new Error(`${file}: unreadable .npy header`);
  if (order[1] === 'True') throw new Error(`${file}: Fortran-order arrays are not supported`);
  const entry = NPY_TYPES[descr[1]];
  if (!entry) throw new Error(`${file}: unsupported dtype '${descr[1]}'`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length)
                   .map((s) => parseInt(s, 10));
  const count = dims.reduce((a, b) => a * b, 1);
  const [type, Ctor] = entry;
  const offset = headerStart + headerLen;
  if (buf.length - offset !== count * Ctor.BYTES_PER_ELEMENT)
    throw new Error(`${file}: data size does not match shape [${dims}]`);
  // Copy into an aligned buffer: the data offset need not be a multiple of the element size.
  const bytes = new Uint8Array(count * Ctor.BYTES_PER_ELEMENT);
  bytes.set(buf.subarray(offset));
  const data = type === 'bool' ? new Uint8Array(bytes.buffer).map((x) => x !== 0)
                               : new Ctor(bytes.buffer);
  return {type, dims, data};
}

/** Writes an onnxruntime tensor as a .npy file (format 1.0). */
function writeNpy(file, tensor) {
  const descr = Object.keys(NPY_TYPES).find((k) => NPY_TYPES[k][0] === tensor.type);
  if (!descr) throw new Error(`cannot write output of type ${tensor.type} as .npy`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

function quantile(sorted, q) {
  // Linear interpolation between closest ranks (numpy's default).
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    console.error(`ort_bench: error: cannot load onnxruntime-node from ${__dirname}/node_modules ` +
                  `(run: npm install --prefix ${__dirname} --ignore-scripts onnxruntime-node): ` +
                  e.message);
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(opts.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const feeds = {};
  for (const [name, file] of opts.inputs) {
    if (!session.inputNames.includes(name))
      throw new Error(`input '${name}' is not an input of ${opts.model} ` +
                      `(inputs: ${session.inputNames.join(', ')})`);
    const t = readNpy(file);
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  for (const name of session.inputNames)
    if (!(name in feeds)) throw new Error(`no --input given for model input '${name}'`);

  let outputs = null;
  for (let i = 0; i < opts.warmup; ++i) outputs = await session.run(feeds);
  const times = [];
  for (let i = 0; i < opts.runs; ++i) {
    const t0 = process.hrtime.bigint();
    outputs = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (opts.outputDir) {
    if (outputs === null) outputs = await session.run(feeds);
    fs.mkdirSync(opts.outputDir, {recursive: true});
    for (const name of session.outputNames)
      writeNpy(path.join(opts.outputDir, name + '.npy'), outputs[name]);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const pkg = require(path.join(__dirname, 'node_modules', 'onnxruntime-node', 'package.json'));
  console.log(JSON.stringify({
    runtime: `onnxruntime-node ${pkg.version}`,
    execution_provider: 'cpu',
    model: opts.model,
    threads: opts.threads,
    runs: opts.runs,
    warmup: opts.warmup,
    median_ms: quantile(sorted, 0.5),
    p90_ms: quantile(sorted, 0.9),
    min_ms: sorted[0],
    times_ms: times,
  }));
}

main().catch((e) => {
  console.error(`ort_bench: error: ${e.message}`);
  process.exit(1);
});
