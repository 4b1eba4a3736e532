# The gradwatch server with its dashboard, from this repository.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles against Node's headers when no prebuilt binary fits.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY server/package.json server/
COPY dashboard/package.json dashboard/
COPY clients/node/package.json clients/node/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
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
