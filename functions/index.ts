/** Entry point for the Azure Functions host (package.json `main`): registers the function table. */
import functions from "@azure/functions";
import { functionsTable } from "./app.js";

const { app } = functions;

app.setup({ enableHttpStream: false });

for (const fn of functionsTable) {
  switch (fn.trigger) {
    case "http":
      app.http(fn.name, {
        route: fn.route,
        methods: fn.methods,
        authLevel: fn.authLevel,
        handler: fn.handler,
      });
      break;
    case "eventGrid":
      app.eventGrid(fn.name, { handler: (event, context) => fn.handler(event, context) });
      break;
    case "timer":
      app.timer(fn.name, { schedule: fn.schedule, handler: (timer, context) => fn.handler(timer, context) });
      break;
  }
}
