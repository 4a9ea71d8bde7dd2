build/src/telemetry/rapl.o: src/telemetry/rapl.c \
 src/telemetry/../telemetry.h src/telemetry/../timeline.h \
 src/telemetry/../util.h
src/telemetry/../telemetry.h:
src/telemetry/../timeline.h:
src/telemetry/../util.h:
