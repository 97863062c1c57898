/**
 * Errors of the v86 adapter: host misuse (an object that is not a loaded v86 instance, a build
 * whose internals are renamed, a port another v86 device holds, a second attach). Thrown before
 * anything is registered on the emulator or written to a sink.
 */

import { Slice86Error } from '../../core/errors.js';

export type V86AdapterErrorCode =
  | 'v86-internals-missing'
  | 'v86-not-loaded'
  | 'v86-port-in-use'
  | 'v86-already-attached';

export class V86AdapterError extends Slice86Error<V86AdapterErrorCode> {}
