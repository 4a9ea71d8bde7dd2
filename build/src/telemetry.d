build/src/telemetry.o: src/telemetry.c src/telemetry.h src/timeline.h \
 src/util.h src/clock.h
src/telemetry.h:
src/timeline.h:
src/util.h:
src/clock.h:
