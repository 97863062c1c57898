/**
 * slice86 for Node (package entry "slice86/node", built to dist/node/node.js): everything the
 * browser-safe entry has, plus an atomic, sparse file sink, a Buffer#compare zero-page test,
 * native (C) and node:zlib page compression, a worker_threads compression pool and dumpToFile.
 *
 * @module slice86/node
 */

export * from '../index.js';
export { createFileSink, type FileSink, type FileSinkOptions, type OpenFile, type SinkFileHandle } from './file-sink.js';
export { isZeroPage } from './zero.js';
export { nodeZlibCodec } from './zlib-codec.js';
export { nativeCodecs, nativeCompressor, isNativeCodec, MAX_NATIVE_THREADS, type NativePageCodec } from './native-codecs.js';
export { nativeAddonStatus, NativeCodecError, type NativeCodecErrorCode, type NativeAddonStatus } from './native-addon.js';
export { CompressWorkerPool, type WorkerPoolOptions } from './worker-pool.js';
export { NodeDumpEngine, createNodeDumpEngine, dumpToFile, type NodeDumpEngineOptions, type DumpToFileOptions } from './engine.js';
