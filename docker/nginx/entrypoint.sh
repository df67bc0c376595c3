#!/bin/sh
# Writes the node's page ("node-a\n") from $NODE_NAME, then runs the command (nginx).
set -e
name=${NODE_NAME:-$(hostname)}
printf '%s\n' "$name" > /var/www/html/index.html
mkdir -p /run/nginx
exec "$@"
