build/src/cmd/runs.o: src/cmd/runs.c src/cmd/cmd.h
src/cmd/cmd.h:
