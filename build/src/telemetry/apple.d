build/src/telemetry/apple.o: src/telemetry/apple.c \
 src/telemetry/../telemetry.h src/telemetry/../timeline.h \
 src/telemetry/../util.h
src/telemetry/../telemetry.h:
src/telemetry/../timeline.h:
src/telemetry/../util.h:
