/*
 * cmd/mainjob.h - the fresh-machine main job of 'ipw profile': with no --url
 * and no server found, the built-in engine runs the default reference model
 * on the `ref` suite, and the run ends with its accuracy, IPW and IPJ.
 */
#ifndef IPW_CMD_MAINJOB_H
#define IPW_CMD_MAINJOB_H

#include <stddef.h>

#include "../runner.h"

#define MAINJOB_MODEL "ref-m.gguf"

/*
 * The default reference model: $IPW_MODELS/ref-m.gguf when IPW_MODELS is set,
 * else beside the ipw binary in ../share/ipw/models/ (installed) or
 * ../models/ (the source tree's build/ipw). 0 with the path in out, or -1
 * with every place tried in err.
 */
int mainjob_model(char *out, size_t n, char *err, size_t errlen);

/*
 * Called before the run: when o names no server (no --url, --serve or
 * --resume, --api unset or auto) and none is found, switches o to --api
 * builtin with the default model and (unless given) --dataset ref, says so on
 * stderr and returns 1; 0 when nothing changes; EXIT_ENV after saying what to
 * do when no model file exists either. PATH holds the model path (o points into it).
 * Also gives --api builtin without --model the default model (0; EXIT_USAGE when there is none).
 */
int mainjob_prepare(struct runner_opts *o, char *path, size_t n);

/* "energy method  estimated (...)" on stdout when RUN_ID's energy is an estimate; nothing otherwise. */
void mainjob_energy_note(const char *store, const char *run_id);

/* After a builtin run: accuracy, IPW and IPJ of RUN_ID in STORE on stdout (estimated energy said so). */
void mainjob_summary(const char *store, const char *run_id);

#endif
