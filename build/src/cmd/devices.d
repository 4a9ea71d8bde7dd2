build/src/cmd/devices.o: src/cmd/devices.c src/cmd/cmd.h
src/cmd/cmd.h:
