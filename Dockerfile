# The gradwatch server with its dashboard, from this repository.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY server/package.json server/
COPY dashboard/package.json dashboard/
COPY clients/node/package.json clients/node/
# better-sqlite3 ships prebuilt N-API binaries: no compiler is needed.
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    GRADWATCH_HOST=0.0.0.0 \
    GRADWATCH_PORT=8080 \
    GRADWATCH_DATA_DIR=/data
COPY --from=build /app /app
# Created here so the named volume starts out owned by the unprivileged user.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
EXPOSE 8080
USER node
CMD ["npm", "run", "serve"]
