build/src/cmd/show.o: src/cmd/show.c src/cmd/cmd.h
src/cmd/cmd.h:
