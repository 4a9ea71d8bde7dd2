/*
 * dataset_builtin.S - embeds data/builtin.jsonl (the built-in set) into the
 * binary as ipw_builtin_dataset .. ipw_builtin_dataset_end (read by
 * dataset.c). Built from the repository root; the Makefile rebuilds this
 * object when the data file changes.
 */
#if defined(__APPLE__)
#define SYM(x) _##x
#else
#define SYM(x) x
#endif

	.section .rodata
	.globl SYM(ipw_builtin_dataset)
	.globl SYM(ipw_builtin_dataset_end)
	.balign 16
SYM(ipw_builtin_dataset):
	.incbin "data/builtin.jsonl"
SYM(ipw_builtin_dataset_end):
	.byte 0

#if defined(__linux__) && defined(__ELF__)
	.section .note.GNU-stack, "", %progbits
#endif
