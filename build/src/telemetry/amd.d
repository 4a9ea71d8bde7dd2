build/src/telemetry/amd.o: src/telemetry/amd.c \
 src/telemetry/../telemetry.h src/telemetry/../timeline.h \
 src/telemetry/../util.h
src/telemetry/../telemetry.h:
src/telemetry/../timeline.h:
src/telemetry/../util.h:
