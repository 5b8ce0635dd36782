#include <png.h>
static inline png_uint_32 cpng_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline png_uint_32 cpng_format_rgb(void)  { return PNG_FORMAT_RGB; }
static inline png_uint_32 cpng_format_gray(void) { return PNG_FORMAT_GRAY; }
