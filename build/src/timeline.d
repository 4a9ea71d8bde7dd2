build/src/timeline.o: src/timeline.c src/timeline.h src/telemetry.h \
 src/util.h
src/timeline.h:
src/telemetry.h:
src/util.h:
