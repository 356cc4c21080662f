/* Compresses N KiB of text-like data at level 9: the hot function is
 * zlib's deflate_slow (a static function of deflate.c). */
#include <stdio.h>
#include <stdlib.h>

#include "zlib.h"

int main(int argc, char **argv)
{
	size_t kib = argc > 1 ? (size_t)atol(argv[1]) : 512;
	size_t len = kib * 1024;
	unsigned char *in = malloc(len);
	uLongf out_len = compressBound(len);
	unsigned char *out = malloc(out_len);
	unsigned seed = 1;
	static const char *const words[] = {"memory", "line", "profile",
					    "table", "heap", "page", "of",
					    "the", "a", "resident"};

	if (!in || !out)
		return 1;
	for (size_t i = 0; i < len;) {
		const char *w;

		seed = seed * 1103515245u + 12345u;
		for (w = words[(seed >> 16) % 10]; *w && i < len; w++)
			in[i++] = (unsigned char)*w;
		if (i < len)
			in[i++] = (seed >> 8) % 7 ? ' ' : '\n';
	}
	if (compress2(out, &out_len, in, len, 9) != Z_OK)
		return 1;
	printf("%zu -> %lu\n", len, (unsigned long)out_len);
	free(in);
	free(out);
	return 0;
}
