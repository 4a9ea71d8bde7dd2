/*
 * telemetry/nvidia.h - what the NVIDIA back-end exposes beyond its ops
 * struct: how many times it read each device's energy counter, and why, so
 * tests can check the reading rule against what actually happened.
 */
#ifndef IPW_TELEMETRY_NVIDIA_H
#define IPW_TELEMETRY_NVIDIA_H

struct backend_instance;

/* Counter reads of one device since probe (docs/platform-nvidia.md, "When the counter is read"). */
struct nvidia_read_counts {
	unsigned long watches;      /* back-to-back watches for a step: two per phase search, one per re-sync */
	unsigned long watch_reads;  /* the reads those watches made (each ends at the first step it sees) */
	unsigned long sparse_reads; /* single reads between steps while locked */
	unsigned long every_reads;  /* reads at every sample (the fallback policy) */
};

/* Fills out for source number `source` of a present NVIDIA instance: 0, or -1 (not one). */
int nvidia_read_counts(const struct backend_instance *inst, int source, struct nvidia_read_counts *out);

#endif
