/**
 * The bash script: the tree as `case` statements, and one function that walks the words before
 * the cursor to the command path and completes what may come next there. It works on bash 3.2
 * (macOS) without the bash-completion package, which only loads it by the command's name.
 */
import { type CompletionNode, identifier, valueCaseArms } from "./tree.ts";

export function bashScript(nodes: readonly CompletionNode[], name: string, header: string): string {
  const f = `_${identifier(name)}`;
  const words = (list: readonly { word: string }[]) => quote(list.map((w) => w.word).join(" "));
  return `${header}
# Install: ${name} completions bash > ~/.local/share/bash-completion/completions/${name}
# (or source it from ~/.bashrc)

# Whether $2 is a sub-command of the command path $1.
${f}__child() {
  case "$1|$2" in
${
    nodes.flatMap((n) => n.children.map((c) => `    ${quote(`${n.key}|${c.word}`)}) return 0 ;;`))
      .join("\n")
  }
  esac
  return 1
}

# The sub-commands ($children) and flags ($flags) of the command path $1.
${f}__words() {
  case $1 in
${
    nodes.map((n) =>
      `    ${quote(n.key)}) children=${words(n.children)} flags=${words(n.flags)} ;;`
    ).join("\n")
  }
  esac
}

# Whether flag $2 of the command path $1 takes a value; which ones in $kind and $choices.
${f}__value() {
  case "$1|$2" in
${
    valueCaseArms(nodes, quote, (choices) => quote(choices.join(" "))).map(({ pattern, set }) =>
      `    ${pattern}) ${set} ;;`
    )
      .join("\n")
  }
    *) return 1 ;;
  esac
}

${f}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path='' flag='' prefix='' word i
  local kind='' choices='' children='' flags=''
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if [[ -n $flag ]]; then
      # "--flag=value" comes as three words when "=" is in COMP_WORDBREAKS.
      [[ $word == = ]] || flag=''
      continue
    fi
    case $word in
      --) return 0 ;;
      -*=*) ;;
      -*) ${f}__value "$path" "$word" && flag=$word ;;
      *) ${f}__child "$path" "$word" && path=\${path:+$path }$word ;;
    esac
  done
  if [[ -n $flag ]]; then
    [[ $cur == = ]] && cur=''
  elif [[ $cur == -*=* ]]; then
    flag=\${cur%%=*} prefix=\${cur%%=*}= cur=\${cur#*=}
  fi
  if [[ -n $flag ]]; then
    ${f}__value "$path" "$flag" || return 0
    case $kind in
      choices) COMPREPLY=($(compgen -P "$prefix" -W "$choices" -- "$cur")) ;;
      file | directory)
        local IFS=$'\\n'
        compopt -o filenames 2>/dev/null
        if [[ $kind == file ]]; then
          COMPREPLY=($(compgen -f -- "$cur"))
        else
          COMPREPLY=($(compgen -d -- "$cur"))
        fi
        ;;
    esac
    return 0
  fi
  ${f}__words "$path"
  if [[ $cur == -* || -z $children ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$children" -- "$cur"))
  fi
}

complete -F ${f} ${name}
`;
}

/** Every word in the tree is plain (tree.ts), so single quotes hold anything that reaches here. */
function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
