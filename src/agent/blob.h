/* The agent (src/agent/agent.c) as bytes, generated at build time from
 * its flat binary, with where its entry points lie in it. */
#ifndef MEMPROF_AGENT_BLOB_H
#define MEMPROF_AGENT_BLOB_H

#include <stddef.h>
#include <stdint.h>

extern const uint8_t agent_blob[];
extern const size_t agent_blob_size;
extern const size_t agent_handler_offset;  /* the SIGTRAP handler */
extern const size_t agent_restorer_offset; /* rt_sigreturn */

#endif
