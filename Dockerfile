FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY data ./data
COPY rules ./rules
ENV NODE_ENV=production
EXPOSE 8080
CMD ["node", "bin/asp.js", "start"]
