build/src/cmd/monitor.o: src/cmd/monitor.c src/cmd/cmd.h
src/cmd/cmd.h:
