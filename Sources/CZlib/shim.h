#ifndef OUTPOST_CZLIB_SHIM_H
#define OUTPOST_CZLIB_SHIM_H
#include <zlib.h>

/// deflateInit2 and inflateInit2 are macros Swift does not import; these call the real functions.
static inline int outpost_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
static inline int outpost_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}
#endif
