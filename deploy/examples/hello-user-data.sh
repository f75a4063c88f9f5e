#!/bin/sh
# Example user data: runs once at first boot; its output reaches the serial console.
echo "hello from minicloud user data on $(hostname) at $(date -u +%FT%TZ)" | tee /dev/console
