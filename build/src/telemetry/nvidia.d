build/src/telemetry/nvidia.o: src/telemetry/nvidia.c \
 src/telemetry/../telemetry.h src/telemetry/../timeline.h \
 src/telemetry/../util.h
src/telemetry/../telemetry.h:
src/telemetry/../timeline.h:
src/telemetry/../util.h:
