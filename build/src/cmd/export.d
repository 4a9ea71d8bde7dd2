build/src/cmd/export.o: src/cmd/export.c src/cmd/cmd.h
src/cmd/cmd.h:
