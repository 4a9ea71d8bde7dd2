build/src/telemetry/fake.o: src/telemetry/fake.c \
 src/telemetry/../telemetry.h src/telemetry/../timeline.h \
 src/telemetry/../util.h
src/telemetry/../telemetry.h:
src/telemetry/../timeline.h:
src/telemetry/../util.h:
