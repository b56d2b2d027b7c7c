"""An agent's side of an MCP tool call, for the end-to-end test: the MCP Python SDK's stdio
client starts the unmodified `mcp-server-fetch` server as a child process, with the proxy and
the CA it needs given explicitly (the SDK passes only a few variables of its own environment to
the child), and calls its `fetch` tool once per URL on the command line.

Prints one JSON object per URL: {"url", "is_error", "text"}.

Usage: mcp_agent.py URL...   (HTTPS_PROXY and SSL_CERT_FILE from the environment)
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(urls):
    server = StdioServerParameters(
        command=sys.executable,
        # robots.txt is a question for the site, not for this test: the policy allows the
        # pages themselves, and the server's own flag turns its robots.txt fetch off.
        args=["-m", "mcp_server_fetch", "--ignore-robots-txt"],
        env={
            "HTTPS_PROXY": os.environ["HTTPS_PROXY"],
            "HTTP_PROXY": os.environ["HTTPS_PROXY"],
            "SSL_CERT_FILE": os.environ["SSL_CERT_FILE"],
            "NO_PROXY": "",
        },
    )
    async with stdio_client(server) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await session.initialize()
            for url in urls:
                result = await session.call_tool("fetch", {"url": url, "max_length": 2000})
                text = "\n".join(
                    getattr(block, "text", "") for block in result.content
                )
                print(json.dumps({"url": url, "is_error": bool(result.is_error), "text": text}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
