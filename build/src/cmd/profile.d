build/src/cmd/profile.o: src/cmd/profile.c src/cmd/cmd.h
src/cmd/cmd.h:
