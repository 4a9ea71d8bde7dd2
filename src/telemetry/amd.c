/*
 * telemetry/amd.c - placeholder until the amd back-end lands: always absent.
 */
#include "../telemetry.h"

static int probe(struct backend_instance *inst, const struct telemetry_opts *opts, char *err, size_t errlen)
{
	(void)inst;
	(void)opts;
	return err_set(err, errlen, "the amd back-end is not built into this version");
}

static int sample_read(struct backend_instance *inst, struct sample *out, char *err, size_t errlen)
{
	(void)inst;
	(void)out;
	return err_set(err, errlen, "absent");
}

static void release(struct backend_instance *inst)
{
	(void)inst;
}

const struct telemetry_backend telemetry_amd = {
	.name = "amd",
	.description = "amd",
	.default_interval_ms = 50,
	.probe = probe,
	.read = sample_read,
	.release = release,
};
