/*
 * telemetry/nvidia.c - placeholder until the nvidia back-end lands: always absent.
 */
#include "../telemetry.h"

static int probe(struct backend_instance *inst, const struct telemetry_opts *opts, char *err, size_t errlen)
{
	(void)inst;
	(void)opts;
	return err_set(err, errlen, "the nvidia back-end is not built into this version");
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

const struct telemetry_backend telemetry_nvidia = {
	.name = "nvidia",
	.description = "nvidia",
	.default_interval_ms = 50,
	.probe = probe,
	.read = sample_read,
	.release = release,
};
